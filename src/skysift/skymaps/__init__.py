"""skysift.skymaps"""
