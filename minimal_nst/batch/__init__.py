"""Many style transfers at once on Dask (`minimal-nst batch`): the engine (engine.py), what a
batch repeats and how its command line becomes jobs (args.py), and one job (jobs.py).

`minimal-nst video batch` (video/batch.py) runs clips on the same engine.
"""
