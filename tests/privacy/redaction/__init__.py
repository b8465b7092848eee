"""Labelled evaluation of free-text redaction: a generated set, a hand-written adversarial set, and the evaluator."""
