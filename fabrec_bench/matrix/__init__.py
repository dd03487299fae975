"""Train/eval matrices: the cross product of models x datasets x splits x training-set sizes x seeds.

A spec (TOML):

    [matrix]
    seeds = [0, 1]
    train_counts = [10, 50]        # "all" (or omit) trains on the whole training split
    train_selection = "random"     # or "first": the first N faces in annotation order (the original's)
    protocol = "all"               # what each split is scored under: standard (the default), a name, or all

    [[matrix.models]]
    name = "mean-shape"

    [[matrix.models]]
    name = "3fabrec"
    label = "3fabrec-ae"           # optional, to tell two configurations of one model apart
    config = { autoencoder = "runs/ae/latest.pt", input_size = 128 }

    [[matrix.datasets]]
    name = "wflw"
    splits = ["test", "pose", "make-up"]
    data_root = "data/WFLW"        # optional; else the usual root lookup
    options = {}                   # dataset options, optional

    [[matrix.pretrain]]            # optional: unsupervised pretraining shared by many cells, done once
    name = "ae"
    model = "3fabrec"              # the model whose pretraining this is (3FabRec: the stage-1 autoencoder)
    dataset = "vggface2"           # faces of this dataset's training split; labels, if any, are ignored
    data_root = "data/VGGFace2"    # optional
    config = { input_size = 128, epochs = 3 }

A model config value "@ae" stands for the artefact of the pretraining named "ae" (for 3FabRec:
`autoencoder = "@ae"`). It is trained before the first cell that needs it, in `<work dir>/pretrain/ae/`, and
marked done there, so every later cell and every resumed matrix reuses the same weights. Its spec is part of
those cells' keys: change it and the cells count as new.

A cell is one (model, dataset, split, training size, seed); cells that share everything but the split train
once and are evaluated on each split. Every stored run carries its cell key, so re-running the same spec skips
finished cells, and a cell interrupted at any moment (Ctrl-C, SIGKILL) is simply run again: its half-done
run was never marked finished. A failing cell is recorded with its error and the matrix goes on.

Executors: `local` runs trainings one after another in this process, or in N worker processes that all write
to the work directory's SQLite store. `ray` sends each training to a Ray cluster (`pip install
"fabrec-bench[ray]"`) with the CPUs and GPUs per cell asked for; Ray sets CUDA_VISIBLE_DEVICES, so a cell
sees exactly the GPUs it was given. A Ray task works in a folder local to its node and returns its finished
runs as export records, which the driver imports into the work directory's store: results land in the same
SQLite store whichever executor ran them, and no node needs to share the driver's disk (dataset roots must
be readable on every node). Run folders (checkpoints, predictions) stay on the node that made them, under
the path and host each run records.
"""

from fabrec_bench.matrix.local import execute, gpu_groups
from fabrec_bench.matrix.plan import Plan, plan, pretrain_dir, run_job, run_pretraining
from fabrec_bench.matrix.spec import Job, load_spec

__all__ = ["Job", "Plan", "execute", "gpu_groups", "load_spec", "plan", "pretrain_dir", "run_job",
           "run_pretraining"]
