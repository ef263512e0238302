"""tonecue.benchmarks"""
