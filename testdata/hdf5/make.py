"""Makes the small HDF5 fixtures geodex's tests read: ann-benchmarks-style files written by h5py
(libhdf5 underneath), so the pure-Rust reader is checked against the reference writer.

Requirements: numpy, h5py. Run from this folder: python3 make.py
"""
import h5py
import numpy as np

rng = np.random.default_rng(7)


def exact(train, test, k):
    d = ((test[:, None, :].astype(np.float64) - train[None, :, :].astype(np.float64)) ** 2).sum(-1)
    order = np.lexsort((np.broadcast_to(np.arange(len(train)), d.shape), d), axis=-1)[:, :k]
    return order, np.sqrt(np.take_along_axis(d, order, axis=1))


def write(name, train, test, ids_dtype):
    ids, dist = exact(train, test, 10)
    with h5py.File(name, "w") as f:
        f.attrs["distance"] = "euclidean"
        f.create_dataset("train", data=train)
        f.create_dataset("test", data=test)
        f.create_dataset("neighbors", data=ids.astype(ids_dtype))
        f.create_dataset("distances", data=dist.astype(np.float32))


write("h5py-f32.hdf5", rng.normal(size=(200, 8)).astype(np.float32), rng.normal(size=(6, 8)).astype(np.float32), np.int32)
write("h5py-u8.hdf5", rng.integers(0, 256, size=(200, 16), dtype=np.uint8), rng.integers(0, 256, size=(6, 16), dtype=np.uint8), np.int32)
write("h5py-f64-i64.hdf5", rng.normal(size=(200, 4)), rng.normal(size=(6, 4)), np.int64)

# A damaged-looking file: `train` claims 10^11 x 4 floats but stores none (chunked, unwritten).
with h5py.File("huge-claim.hdf5", "w") as f:
    f.create_dataset("train", shape=(10**11, 4), dtype="f4", chunks=(1024, 4))
