import Kernels

/// The KV caches of an engine's open sequences, one slot each: a closed slot is reset and reused by the next
/// open, and at most `capacity` caches are ever allocated (a cache is the largest buffer a sequence owns).
/// One per `DecoderEngine`; the cache's shape comes from the model's spec.
public final class KVCachePool {
    public let capacity: Int
    private let makeCache: () -> KVCache
    private var caches: [KVCache] = []     // [slot]
    private var inUse: [Bool] = []         // [slot]

    public init(capacity: Int, makeCache: @escaping () -> KVCache) {
        self.capacity = capacity
        self.makeCache = makeCache
    }

    /// Reserves an empty cache (all slots unfilled, K = V = 0).
    public func open() throws -> SequenceID {
        if let i = inUse.firstIndex(of: false) {
            caches[i].reset()
            inUse[i] = true
            return SequenceID(slot: i)
        }
        guard caches.count < capacity else { throw ModelError.badInput("all \(capacity) sequence slots are in use") }
        caches.append(makeCache())
        inUse.append(true)
        return SequenceID(slot: caches.count - 1)
    }

    public func close(_ id: SequenceID) { inUse[id.slot] = false }

    /// The cache of an open sequence.
    public func cache(_ id: SequenceID) -> KVCache {
        precondition(inUse[id.slot], "\(id) is not open")
        return caches[id.slot]
    }

    public var openCount: Int { inUse.filter { $0 }.count }

    /// Bytes held by the allocated caches (for memory reports).
    public var byteCount: Int { caches.reduce(0) { $0 + $1.byteCount } }
}
