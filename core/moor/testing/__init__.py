"""Test support shared by the core's and the plugins' test suites.

:mod:`moor.testing.daemon` starts a private moord (own data root, exec root
and socket) and always stops it; the conformance suites per driver kind live
beside it.
"""
