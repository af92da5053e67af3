"""CS231n assignment 2 as handed out in 2016 and spring 2017 (Python 2.7 era), where it differs from
reference.cs231n (spring 2018 on):

* dropout's ``p`` is the probability of DROPPING a value ("We drop each neuron output with probability p");
* ``FullyConnectedNet(hidden_dims, ..., dropout=0, use_batchnorm=False, ...)``, no layer norm;
* no spatial group norm, no layer norm;
* optim.adam's ``t`` starts at 1 (``config.setdefault('t', 1)``, spring 2017), still incremented before use.

Everything else is reference.cs231n's: the modules forward what they do not define to it at call time
(PEP 562 module ``__getattr__``), so a mistake patched into reference.cs231n reaches this package too.
"""
