"""Shared test inputs: the ketamine PK graph reduced to textbook one- and two-compartment models."""

# volume (L) and rate constants (1/h) of the reduced models; arbitrary but distinct so that every term matters
V, K10, K12, K21, KA = 2.0, 0.7, 1.3, 0.4, 3.1
K13, K31 = 0.9, 0.05  # a slow deep compartment for the three-compartment forms


def base_values(**k):
    """Parameters of the ketamine graph with every flow off, unit volumes and the given rate constants."""
    v = {"v_central_L": V, "v_brain_L": 1.0, "v_nor_central_L": 1.0, "fu_brain": 1.0, "fu_nor_brain": 1.0,
         "s_fraction": 0.5, "ki_s_ketamine_uM": 0.3, "ki_r_ketamine_uM": 1.4, "ki_s_norketamine_uM": 1.7,
         "ki_r_norketamine_uM": 13.0, "interneuron_potency_ratio": 3.0}
    v.update(k)
    return v
