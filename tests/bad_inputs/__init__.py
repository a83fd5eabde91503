"""The bad-input corpus run by ``tests/test_bad_inputs.py`` (see ``cases.py``)."""
