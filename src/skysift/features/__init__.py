"""skysift.features"""
