"""Grading the AICS DLP labs (exp 2-2 MNIST MLP, exp 3-2 VGG19) with Cambricon's pycnml / pycnnl, or emulations.

    numerics   the DLP arithmetic on numpy (float16, int8 quantization, exact int8 products)
    pycnml     the pycnml API (CNML, MLU270), emulated      } sent to the sandboxed child, which
    pycnnl     the pycnnl API (CNNL, MLU370), emulated      } imports them when the real ones are absent
    provide    how the child gets them, and which backend runs
    quant      (position, scale) calibration and the course's npz format
    network    the harness's own pycnml / pycnnl networks (VGG19, MLP) from known weights
    mlp        exp 2-2's synthetic weights and digit-like images, and the float MLP
    resources  the weights, quantization and data files a DLP lab's checks hand the child
    judge      probabilities and classes against a reference, within a bound
    kinds      the check kinds: run the student's demo as the course's driver does
    compare    `harness dlp compare`: the reference against a pycnml network, JUnit XML for CI
    commands   the `harness dlp` command line (calibrate, compare)
"""
