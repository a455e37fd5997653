import Kernels

/// What a `DecoderEngine` asks of the hardware, block by block: the engine owns the pass's graph (which
/// blocks run in which order, which rows reach the head) and the sequences' bookkeeping; a backend owns the
/// weights' and activations' memory, the KV caches and the kernels. `CPUDecoderBackend` runs on our SIMD
/// kernels and OpenBLAS; an accelerator backend would implement these five calls on its own memory, with
/// the scheduler, the samplers and the window rules untouched. Logits come back to host memory (sampling
/// runs on the CPU).
public protocol DecoderBackend: AnyObject {
    /// Queries a pass may carry, positions a cache holds, bytes held by caches.
    var maxQueries: Int { get }
    var maxPositions: Int { get }
    var cacheBytes: Int { get }
    var cacheStorage: WeightStorage { get }
    /// Where pass time goes (benchmarks); nil: not timed.
    var profile: PassProfile? { get set }

    /// Reserves a sequence's KV cache (all slots unfilled), releases it, asks whether a slot holds K/V.
    func openSequence() throws -> SequenceID
    func closeSequence(_ id: SequenceID)
    func isFilled(_ id: SequenceID, position: Int) -> Bool
    var openSequences: Int { get }

    /// The residual stream of each query from its input, every slot of the pass marked filled (queries of
    /// one pass see each other's K/V, causally by position), then each query's hidden positions applied.
    func embed(_ batch: PassBatch)
    /// `x += wo(attention(RoPE(qkNorm(q)), RoPE(qkNorm(k)), v))` on RMSNorm(x), K/V stored in the caches.
    func attentionBlock(layer: Int, batch: PassBatch)
    /// `x += down(silu(gate(h)) * up(h))` on h = RMSNorm(x).
    func feedForwardBlock(layer: Int, rows: Int)
    /// Final RMSNorm and head over `vocabulary` for the queries `rows` (ascending), packed in that order.
    func head(rows: [Int], vocabulary: Range<Int>) -> PassLogits
}
