// CHECK_CACHE: which of a shard's sequences are not in the shared cache yet → a TODO parquet (same schema as
// the shard) and a JSON summary {"sequences", "cached", "missing", ...}. One task per shard; metadata only.
// The caller reads `missing` from the summary to decide whether the shard needs a PREDICT task.
process CHECK_CACHE {
    tag "${shard_id}"
    label 'process_single'
    container 'enformer-vep:0.1.0'
    // The cache is a shared folder outside the work directory: never staged, bound into the container.
    containerOptions "${ workflow.containerEngine in ['singularity', 'apptainer'] ? "-B ${cache_dir}" : "-v ${cache_dir}:${cache_dir}" }"
    // Always re-check: the answer depends on the cache's contents, which other runs change. With -resume this
    // costs seconds and lets PREDICT pick up exactly what is still missing.
    cache false

    input:
    tuple val(shard_id), path(shard) // a shard from EXTRACT_SEQS
    path model                       // the ONNX model (its SHA-256 is part of the cache namespace)
    path namespace_file              // namespace.json from NAMESPACE: the model's SHA-256, computed once
    val cache_dir                    // absolute path of the shared cache folder (a string, not staged)
    path legacy_cache                // the legacy tool's {sha256}.pkl.gz folder, read as cached; [] if none
    val args                         // namespace flags: --head --n-encoding --store --window --center-bins

    output:
    tuple val(shard_id), path("${shard_id}.todo.parquet"), path("${shard_id}.json"), emit: todo
    path "versions.yml"                                                          , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def legacy = legacy_cache ? "--legacy-cache ${legacy_cache}" : ''
    def extra = task.ext.args ?: ''
    """
    ${bin} check-cache \\
        --shard "${shard}" \\
        --model "${model}" \\
        --namespace-file "${namespace_file}" \\
        --cache "${cache_dir}" \\
        --out ${shard_id}.todo.parquet \\
        --summary ${shard_id}.json \\
        --threads ${task.cpus} \\
        ${legacy} ${args} ${extra}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \$(${bin} --version | sed 's/^enformer-vep //')
    END_VERSIONS
    """

    stub:
    def bin = task.ext.binary ?: 'enformer-vep'
    """
    touch ${shard_id}.todo.parquet
    echo '{"sequences": 2, "cached": 0, "missing": 2, "stub": true}' > ${shard_id}.json

    version=\$(${bin} --version 2>/dev/null | sed 's/^enformer-vep //') || true
    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \${version:-stub}
    END_VERSIONS
    """
}
