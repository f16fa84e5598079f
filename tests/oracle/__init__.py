"""The oracle: the Friendbuy destination's published code, run by Node (``harness.js``).

``client.py`` installs it (outside the repository) and talks to it; ``corpus.py``
draws seeded cases; ``compare.py`` plans them with fbcli and the destination
and compares what each would send.  ``tests/property/test_oracle.py`` and
``bench/oracle.py`` use them.
"""
