"""The Panel workbench: a leaf of the package that nothing else imports (it calls the library, holds no
analysis logic of its own). Serve it with ``biocoach serve`` (``serve.py`` adds the Host, Origin and
component-route guards)."""
