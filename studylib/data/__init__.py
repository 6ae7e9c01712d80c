"""Data for training and evaluation, concept world and real alike.

* ``adapters``: real-data readers (TSV/CSV lists, webdataset shards, ImageNet-Captions,
  ImageFolder evaluation sets with class masks), image decoding and seeded loaders;
* ``class_masks``: the ImageNet-R/-A and ObjectNet class lists (data constants);
* ``sources``: batch sources the training loop draws from (in-memory tensors, DataLoaders);
* ``backend``: the :class:`~studylib.data.backend.DataBackend` protocol the run pipeline asks of a backend;
* ``world_data``, ``real_data``: the two data backends of the run pipeline.
"""
