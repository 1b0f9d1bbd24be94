"""skysift.gcn"""
