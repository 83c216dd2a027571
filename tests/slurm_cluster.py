"""A real single-node Slurm for the tests: munged, slurmctld and slurmd on localhost.

Debian's ``slurmctld``, ``slurmd``, ``slurm-client`` and ``munge`` (``make sysdeps``
installs them), started as root in a new folder with ports of their own, so two
test suites can each have one; :func:`start` waits until the node takes jobs and
returns the environment (``SLURM_CONF``) under which ``sbatch``, ``squeue`` and
``scancel`` talk to it.  :func:`stop` ends the daemons.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

DAEMONS = ('munged', 'mungekey', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel', 'sinfo')
_SBIN = ('/usr/sbin', '/usr/bin', '/sbin', '/bin')


def missing():
    """Why no cluster can start here (a line), or ''."""
    absent = [name for name in DAEMONS
              if not any(os.path.exists(os.path.join(d, name)) for d in _SBIN)]
    if absent:
        return 'Slurm and munge are not installed (%s missing; make sysdeps installs them)' \
            % ', '.join(absent)
    if os.geteuid() != 0:
        return 'slurmd runs jobs as root only (this test runs as uid %d)' % os.geteuid()
    return ''


def _free_port():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _path(name):
    for folder in _SBIN:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    return name


CONF = """ClusterName=gxnortest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
AuthInfo=socket={folder}/munge.socket
CredType=cred/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=20
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName=gxnode NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


class Cluster(object):
    def __init__(self, folder, env, procs):
        self.folder, self.env, self.procs = folder, env, procs

    def call(self, *command):
        return subprocess.check_output(list(command), env=self.env).decode('utf-8')


def start(cpus=2, timeout=60):
    """Start the cluster; returns a :class:`Cluster` (its ``env`` for the clients)."""
    # Short: munge's socket path must fit a Unix socket's 108 bytes.
    folder = tempfile.mkdtemp(prefix='gxslurm')
    for sub in ('state', 'spool'):
        os.makedirs(os.path.join(folder, sub))
    host = socket.gethostname()
    conf = os.path.join(folder, 'slurm.conf')
    with open(conf, 'w') as handle:
        handle.write(CONF.format(host=host, folder=folder, cpus=cpus,
                                 ctld_port=_free_port(), d_port=_free_port()))
    key = os.path.join(folder, 'munge.key')
    subprocess.check_call([_path('mungekey'), '-c', '-k', key, '-f'])
    os.chmod(key, 0o600)
    subprocess.check_call([_path('munged'), '--force', '--key-file=' + key,
                           '--socket=' + os.path.join(folder, 'munge.socket'),
                           '--pid-file=' + os.path.join(folder, 'munged.pid'),
                           '--log-file=' + os.path.join(folder, 'munged.log'),
                           '--seed-file=' + os.path.join(folder, 'munge.seed')])
    env = dict(os.environ, SLURM_CONF=conf)
    log = open(os.path.join(folder, 'daemons.out'), 'ab')
    procs = [subprocess.Popen([_path('slurmctld'), '-D', '-f', conf], stdout=log,
                              stderr=subprocess.STDOUT, env=env),
             subprocess.Popen([_path('slurmd'), '-D', '-N', 'gxnode', '-f', conf], stdout=log,
                              stderr=subprocess.STDOUT, env=env)]
    cluster = Cluster(folder, env, procs)
    deadline = time.time() + timeout
    while True:
        try:
            if 'idle' in cluster.call(_path('sinfo'), '-h', '-o', '%t'):
                return cluster
        except subprocess.CalledProcessError:
            pass
        if time.time() > deadline or any(p.poll() is not None for p in procs):
            stop(cluster)
            raise RuntimeError('the test Slurm did not start; its logs: %s' % folder)
        time.sleep(0.5)


def stop(cluster):
    """End the daemons and remove the cluster's folder."""
    for proc in cluster.procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in cluster.procs:
        try:
            proc.wait()
        except OSError:
            pass
    try:
        with open(os.path.join(cluster.folder, 'munged.pid')) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 15)
        # munged writes its seed file as it exits: wait for it, or the folder comes back
        deadline = time.time() + 10
        while time.time() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
    except (IOError, OSError, ValueError):
        pass
    shutil.rmtree(cluster.folder, ignore_errors=True)
