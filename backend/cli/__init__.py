"""The execbatch command line (``execbatch.cli.app:main``)."""
