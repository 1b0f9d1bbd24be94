"""skysift.store"""
