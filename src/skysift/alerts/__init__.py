"""skysift.alerts"""
