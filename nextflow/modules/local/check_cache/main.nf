// CHECK_CACHE: which of a shard's sequences are not in the shared cache yet → a TODO parquet (same schema as
// the shard) and a JSON summary {"sequences", "cached", "missing", ...}. One task per shard; metadata only.
// The caller reads `missing` from the summary to decide whether the shard needs a PREDICT task.
process CHECK_CACHE {
    tag "${meta.id}"
    label 'process_single'
    container 'enformer-vep:0.1.0'
    // The cache is a shared folder outside the work directory: never staged, bound into the container.
    containerOptions "${ workflow.containerEngine in ['singularity', 'apptainer'] ? "-B ${cache_dir}" : "-v ${cache_dir}:${cache_dir}" }"
    // Always re-check: the answer depends on the cache's contents, which other runs change. With -resume this
    // costs seconds and lets PREDICT pick up exactly what is still missing.
    cache false

    input:
    tuple val(meta), path(shard)                        // a shard from EXTRACT_SEQS; meta.id: its name (shard-00000)
    tuple val(meta2), path(model), path(namespace_file) // the ONNX model and its namespace.json from NAMESPACE
    val cache_dir                                       // absolute path of the shared cache folder (a string, not staged)
    path legacy_cache                                   // the legacy tool's {sha256}.pkl.gz folder, read as cached; [] if none
    val args                                            // namespace flags: --head --n-encoding --store --window --center-bins

    output:
    tuple val(meta), path("${task.ext.prefix ?: meta.id}.todo.parquet"), path("${task.ext.prefix ?: meta.id}.json"), emit: todo
    tuple val("${task.process}"), val('enformer-vep'), eval("${task.ext.binary ?: 'enformer-vep'} --version | sed 's/^enformer-vep //'"), emit: versions_enformer_vep, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def prefix = task.ext.prefix ?: "${meta.id}"
    def legacy = legacy_cache ? "--legacy-cache ${legacy_cache}" : ''
    def extra = task.ext.args ?: ''
    """
    ${bin} check-cache \\
        --shard "${shard}" \\
        --model "${model}" \\
        --namespace-file "${namespace_file}" \\
        --cache "${cache_dir}" \\
        --out ${prefix}.todo.parquet \\
        --summary ${prefix}.json \\
        --threads ${task.cpus} \\
        ${legacy} ${args} ${extra}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.todo.parquet
    echo '{"sequences": 2, "cached": 0, "missing": 2, "stub": true}' > ${prefix}.json
    """
}
