# Configuration of the course directory: nbgrader reads its own sections, the
# `course` command reads nbgrader's CourseDirectory plus the Course section.
c = get_config()  # noqa: F821 (provided by traitlets when the file is loaded)

c.CourseDirectory.course_id = "dl-pytorch"
# The gradebook: SQLite next to this file by default; any SQLAlchemy URL works
# (e.g. "postgresql://grader@dbhost/dl_pytorch"). `course autograde --db-url` overrides it.
# c.CourseDirectory.db_url = "sqlite:////path/to/gradebook.db"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- grading ---------------------------------------------------------------
c.Course.device = "auto"          # auto | cpu | cuda: auto picks CUDA when the runner has a GPU
c.Course.seed = 0                 # injected as SEED; torch, numpy and random are seeded with it
c.Course.workers = 0              # parallel submissions on this machine; 0 = one per core
c.Course.cell_timeout = 60        # seconds a single cell may run
c.Course.notebook_timeout = 300   # seconds a whole notebook may run
# Per-assignment overrides (a training lab needs more time than a tensor drill).
c.Course.assignments = {
    "01-tensors": {"cell_timeout": 30, "notebook_timeout": 120},
    "02-gradients": {"cell_timeout": 30, "notebook_timeout": 180},
    "03-softmax-nll": {"cell_timeout": 30, "notebook_timeout": 120},
    "04-ethics": {"cell_timeout": 30, "notebook_timeout": 120},
    "05-gpu-classifier": {"cell_timeout": 60, "notebook_timeout": 180, "gpu": True},
    # A CNN on 20,000 images: seconds on a GPU, about a minute on one CPU core. Without a GPU the small training
    # configuration runs (3,000 images, 2 epochs); delete "parameters" below to grade the full one on CPU too.
    "07-image-classifier": {"gpu": True, "cell_timeout": 60, "notebook_timeout": 180,
                            "on_cpu": {"cell_timeout": 300, "notebook_timeout": 600,
                                       "parameters": {"TRAINING": "small"}}},
}

# --- Slurm: `course autograde AID --cluster slurm` -------------------------------
# Workers are Slurm jobs (dask-jobqueue), from none up to max_jobs, gone when the batch ends; assignments with
# "gpu": True get jobs with --gres=gpu:N. Uncomment and adapt to the university's cluster:
# c.Slurm.partition = "gpu"                  # -p; default: the cluster's default partition
# c.Slurm.account = "dl-course"              # -A
# c.Slurm.walltime = "01:00:00"              # each worker's job
# c.Slurm.memory = "16GB"                    # each worker's job (room for `cores` sandboxes)
# c.Slurm.cores = 4                          # submissions a CPU worker runs at a time
# c.Slurm.gpus_per_worker = 1                # --gres=gpu:N on GPU assignments
# c.Slurm.activate = "source /home/me/course/.venv/bin/activate"   # the environment, in each job
# c.Slurm.max_jobs = 4                       # worker jobs at a time
# c.Slurm.start_wait = 600                   # seconds for a worker to start before the batch stops

# --- nbgrader-format test cells ------------------------------------------------
# nbgrader gives no points to a test cell that writes to stderr; a library's warning (Python's
# "file.py:12: UserWarning: ..." lines) is not the student's failure. nbgrader and the course both apply this.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?m)^.*:\d+: [A-Za-z]*Warning: "
