"""How far a saliency map explains its model (issue 27): model randomisation
(``randomisation``: top-level and cascading, Adebayo et al. 2018), deletion and
insertion curves (``deletion``), model-agnostic baseline maps (``baselines``:
random order, Sobel edges), max-sensitivity (``stability``) and bootstrap
intervals over frames (``bootstrap``)."""
