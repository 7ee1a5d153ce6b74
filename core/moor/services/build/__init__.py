"""The builder: ``POST /build`` run step by step over images and containers, with its cache."""
