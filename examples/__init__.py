"""The curriculum's broken/fixed pairs: one module per pair, each with ``broken`` and ``fixed``
recipes and a ``pair`` object.  ``examples.PAIRS`` lists them all."""
