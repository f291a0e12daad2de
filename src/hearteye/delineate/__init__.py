"""delineate"""
