// PREDICT: run the model on a shard's TODO sequences and write one entry per sequence into the shared cache.
// Its only outputs besides the cache entries are a per-sequence manifest and a JSON summary
// {"computed", "cached", "failed", ...}. Exit 1 if any sequence failed (the others are stored).
// Label process_gpu: with device cuda* the configuration asks the scheduler for one GPU (accelerator, or
// --gres=gpu:1 under SLURM) and this module passes the GPU to the container (--gpus all / --nv).
process PREDICT {
    tag "${meta.id}"
    label 'process_gpu'
    container "${ device.startsWith('cuda') ? 'enformer-vep:0.1.0-cuda' : 'enformer-vep:0.1.0' }"
    containerOptions "${ workflow.containerEngine in ['singularity', 'apptainer'] ? "-B ${cache_dir}${ device.startsWith('cuda') ? ' --nv' : '' }" : "-v ${cache_dir}:${cache_dir}${ device.startsWith('cuda') ? ' --gpus all' : '' }" }"

    input:
    tuple val(meta), path(todo)                         // the TODO parquet of a shard with missing > 0
    tuple val(meta2), path(model), path(namespace_file) // the ONNX model and its namespace.json from NAMESPACE
    val cache_dir                                       // absolute path of the shared cache folder (a string, not staged)
    val device                                          // cpu, cuda or cuda:N
    val args                                            // namespace flags (as for CHECK_CACHE and MERGE) and --batch-size

    output:
    tuple val(meta), path("${task.ext.prefix ?: meta.id}.predict.json")   , emit: summary
    tuple val(meta), path("${task.ext.prefix ?: meta.id}.predict.parquet"), emit: manifest
    tuple val("${task.process}"), val('enformer-vep'), eval("${task.ext.binary ?: 'enformer-vep'} --version | sed 's/^enformer-vep //'"), emit: versions_enformer_vep, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def prefix = task.ext.prefix ?: "${meta.id}"
    def extra = task.ext.args ?: ''
    """
    ${bin} predict \\
        --sequences "${todo}" \\
        --model "${model}" \\
        --namespace-file "${namespace_file}" \\
        --cache "${cache_dir}" \\
        --device ${device} \\
        --manifest ${prefix}.predict.parquet \\
        --summary ${prefix}.predict.json \\
        --threads ${task.cpus} \\
        ${args} ${extra}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.predict.parquet
    echo '{"computed": 2, "cached": 0, "failed": 0, "stub": true}' > ${prefix}.predict.json
    """
}
