"""How far a saliency map explains its model: model randomisation (Adebayo et al. 2018)."""
