"""The spec language beyond plain YAML: values, the expression evaluator and its functions,
and the expansion of layer entries (loops, conditions, name templates) into ordinary ones.

Everything here is exact (ints, Fractions, sympy for symbolic sizes) and nothing is ever
``eval``ed: expressions are parsed with :mod:`ast` and walked by a whitelisting visitor.
"""
