"""workbench.batch"""
