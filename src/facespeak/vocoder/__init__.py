"""vocoder"""
