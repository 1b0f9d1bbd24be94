"""skysift.filters"""
