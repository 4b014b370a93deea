"""The core: one run's settings, its images, losses and the optimisation loop. It knows no screen
(no matplotlib, IPython or ipywidgets): it reports through callbacks."""
