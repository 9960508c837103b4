"""workbench.review"""
