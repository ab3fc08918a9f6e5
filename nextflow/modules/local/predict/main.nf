// PREDICT: run the model on a shard's TODO sequences and write one entry per sequence into the shared cache.
// Its only outputs besides the cache entries are a per-sequence manifest and a JSON summary
// {"computed", "cached", "failed", ...}. Exit 1 if any sequence failed (the others are stored).
// Label process_gpu: with device cuda* the configuration asks the scheduler for one GPU (accelerator, or
// --gres=gpu:1 under SLURM) and this module passes the GPU to the container (--gpus all / --nv).
process PREDICT {
    tag "${shard_id}"
    label 'process_gpu'
    container "${ device.startsWith('cuda') ? 'enformer-vep:0.1.0-cuda' : 'enformer-vep:0.1.0' }"
    containerOptions "${ workflow.containerEngine in ['singularity', 'apptainer'] ? "-B ${cache_dir}${ device.startsWith('cuda') ? ' --nv' : '' }" : "-v ${cache_dir}:${cache_dir}${ device.startsWith('cuda') ? ' --gpus all' : '' }" }"

    input:
    tuple val(shard_id), path(todo) // the TODO parquet of a shard with missing > 0
    path model                      // the ONNX model
    path namespace_file             // namespace.json from NAMESPACE: the model's SHA-256, computed once
    val cache_dir                   // absolute path of the shared cache folder (a string, not staged)
    val device                      // cpu, cuda or cuda:N
    val args                        // namespace flags (as for CHECK_CACHE and MERGE) and --batch-size

    output:
    tuple val(shard_id), path("${shard_id}.predict.json"), emit: summary
    path "${shard_id}.predict.parquet"                   , emit: manifest
    path "versions.yml"                                  , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def extra = task.ext.args ?: ''
    """
    ${bin} predict \\
        --sequences "${todo}" \\
        --model "${model}" \\
        --namespace-file "${namespace_file}" \\
        --cache "${cache_dir}" \\
        --device ${device} \\
        --manifest ${shard_id}.predict.parquet \\
        --summary ${shard_id}.predict.json \\
        --threads ${task.cpus} \\
        ${args} ${extra}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \$(${bin} --version | sed 's/^enformer-vep //')
    END_VERSIONS
    """

    stub:
    def bin = task.ext.binary ?: 'enformer-vep'
    """
    touch ${shard_id}.predict.parquet
    echo '{"computed": 2, "cached": 0, "failed": 0, "stub": true}' > ${shard_id}.predict.json

    version=\$(${bin} --version 2>/dev/null | sed 's/^enformer-vep //') || true
    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \${version:-stub}
    END_VERSIONS
    """
}
