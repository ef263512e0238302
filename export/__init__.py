"""tonecue.export"""
