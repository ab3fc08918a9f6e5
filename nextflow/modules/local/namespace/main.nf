// NAMESPACE: hash the ONNX model once (1 GB for Enformer) → namespace.json (the cache namespace, the model's
// SHA-256 and the model file's size and time stamps). CHECK_CACHE, PREDICT and MERGE take it as
// --namespace-file instead of each hashing the model again on the shared filesystem; they compare the staged
// model's size and time stamps with the record and hash it again only when they differ (a changed model is
// still caught).
process NAMESPACE {
    tag "${meta.id}"
    label 'process_single'
    container 'enformer-vep:0.1.0'

    input:
    tuple val(meta), path(model) // the ONNX model; meta.id: its name
    val args                     // namespace flags: --head --n-encoding --store --window --center-bins

    output:
    tuple val(meta), path("${task.ext.prefix ?: meta.id}.namespace.json"), emit: record
    tuple val("${task.process}"), val('enformer-vep'), eval("${task.ext.binary ?: 'enformer-vep'} --version | sed 's/^enformer-vep //'"), emit: versions_enformer_vep, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def prefix = task.ext.prefix ?: "${meta.id}"
    def extra = task.ext.args ?: ''
    """
    ${bin} namespace \\
        --model "${model}" \\
        --out ${prefix}.namespace.json \\
        ${args} ${extra} > /dev/null
    """

    stub:
    def bin = task.ext.binary ?: 'enformer-vep'
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    ${bin} namespace --model "${model}" --out ${prefix}.namespace.json ${args} > /dev/null 2>&1 || touch ${prefix}.namespace.json
    """
}
