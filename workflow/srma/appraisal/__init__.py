"""Appraisal: risk of bias per study and certainty of evidence per outcome.

- :mod:`srma.appraisal.tools`: RoB 2 and ROBINS-I, their domains and scales;
- :mod:`srma.appraisal.rob2`, :mod:`srma.appraisal.robins_i`: the tools' published
  algorithms for the overall judgement;
- :mod:`srma.appraisal.load`: reading and checking ``resources/risk_of_bias/*.yaml``, the
  risk-of-bias table, the judgements that hold for one outcome;
- :mod:`srma.appraisal.sensitivity`: a group refitted without its studies at high risk;
- :mod:`srma.appraisal.grade`: GRADE: srma's proposed downgrades per outcome, the
  reviewer's decisions file, the final certainty with who decided each domain;
- :mod:`srma.appraisal.sof`: the summary-of-findings table (CSV, HTML, Word).

The figures (traffic-light plot, summary bars, risk-of-bias columns of the forest plot)
are in :mod:`srma.figures.rob`. How-to, formats and sources: docs/risk-of-bias.md.
"""
