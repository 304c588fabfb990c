tests-build:
