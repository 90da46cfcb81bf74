"""Circuit models driven by brain ketamine: mPFC, VTA dopamine, plasticity and behaviour."""
