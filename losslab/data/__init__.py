"""Data in and out: reading CSV files and the bundled datasets into validated arrays (``read``),
feature columns that are not plain numbers (``encoding``: missing values, one-hot categories),
sample and class weights (``weighting``), and the writers of JSON and CSV for programs
(``write``). May import the declarations, ``nn`` (model kinds), ``losses`` and ``optim``; never
training, studies or views.
"""
