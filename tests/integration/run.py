"""Runs one integration test module for ctest: exit 0 when its tests pass, 1 when one fails, and
77 (ctest's "skipped") when every test of the module was skipped, so a suite that could not run
here (no browser, no S3 server, no database) is reported as skipped, never as passed.

usage: run.py MODULE"""
import sys
import unittest


def main():
    name = sys.argv[1]
    suite = unittest.defaultTestLoader.loadTestsFromName(name)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        return 1
    # A class skipped in setUpClass is listed among the skips without being counted as run.
    skipped_tests = sum(1 for t, _ in result.skipped if isinstance(t, unittest.TestCase))
    if result.skipped and result.testsRun - skipped_tests == 0:
        print("%s: every test was skipped" % name, file=sys.stderr)
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
