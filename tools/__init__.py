"""Tools around the product: the scenario generator, replay in event time and the evaluation
of the detectors against labels. Used by `noroshi replay`/`evaluate`, tests and benchmarks."""
