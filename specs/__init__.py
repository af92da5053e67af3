"""The lab specs (one YAML file per lab). Installed as the package data of ``harness._specs``; see setup.py."""
