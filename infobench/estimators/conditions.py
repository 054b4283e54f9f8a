"""The catalogue of validity conditions as other packages use it.

Every condition an estimator or a quality score checks is declared once in
this catalogue (code, what the formula needs, what happens without it); the
estimators' declarations and checks live in this package's private module
``_conditions``. This module names what code outside
:mod:`infobench.estimators` may use (the quality scores declare their own
conditions into the same catalogue), so that no other package imports a
private module. It registers no estimation method.
"""

from infobench.estimators._conditions import CONDITIONS, Condition, declare_condition, type_name

__all__ = ["CONDITIONS", "Condition", "declare_condition", "type_name"]
