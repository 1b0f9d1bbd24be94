"""skysift.streams"""
