import CKernels

/// The keys and values of one sequence, every layer: `[layer][kvHead][position][headDim]`.
///
/// Positions are raster positions (class token first). ZipAR fills them out of order, so the
/// cache also keeps which positions hold a decoded token's K/V (`filled`). One head's keys and
/// values are contiguous runs, which is what the attention kernel streams. Values are f32, or IEEE halves
/// (half the memory: with f16 weights the caches of 8 CFG jobs would otherwise outweigh them).
public final class KVCache {
    public let layers: Int
    public let kvHeads: Int
    public let headDim: Int
    public let positions: Int
    public let storage: WeightStorage
    let keys: UnsafeMutableRawPointer                // [layer][kvHead][position][headDim], f32 or f16 bits
    let values: UnsafeMutableRawPointer              // [layer][kvHead][position][headDim], f32 or f16 bits
    let filledFlags: UnsafeMutablePointer<UInt8>     // [position]: 1 once a token's K/V are stored

    public init(layers: Int, kvHeads: Int, headDim: Int, positions: Int, storage: WeightStorage = .f32) {
        precondition(layers > 0 && kvHeads > 0 && headDim > 0 && positions > 0, "empty KV cache")
        precondition(storage != .int8, "KV caches are f32 or f16 (int8 weights use f16 caches: WeightStorage.kvCacheStorage)")
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.positions = positions
        self.storage = storage
        let bytes = layers * kvHeads * positions * headDim * storage.bytesPerValue   // = blockBytes
        guard let k = zk_alloc(bytes), let v = zk_alloc(bytes) else {
            fatalError("out of memory for a KV cache of \(2 * bytes) bytes")
        }
        keys = k
        values = v
        filledFlags = .allocate(capacity: positions)
        filledFlags.initialize(repeating: 0, count: positions)
    }

    deinit {
        zk_free(keys, blockBytes)
        zk_free(values, blockBytes)
        filledFlags.deallocate()
    }

    /// Bytes of keys and values.
    public var byteCount: Int { 2 * blockBytes }

    /// Values in one layer of keys (or of values).
    var layerValues: Int { kvHeads * positions * headDim }
    /// Bytes of all keys (or of all values).
    var blockBytes: Int { layers * layerValues * storage.bytesPerValue }

    /// Empties the cache: every slot unfilled, K = V = 0 (the reference attention mode scores
    /// unfilled slots as the zeros the official code's fresh cache holds).
    public func reset() {
        keys.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
        values.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
        filledFlags.update(repeating: 0, count: positions)
    }

    public func isFilled(_ position: Int) -> Bool {
        precondition(position >= 0 && position < positions, "position \(position) outside the cache")
        return filledFlags[position] != 0
    }

    public func setFilled(_ position: Int, _ filled: Bool = true) {
        precondition(position >= 0 && position < positions, "position \(position) outside the cache")
        filledFlags[position] = filled ? 1 : 0
    }

    /// Writes one position's keys and values (`kvHeads * headDim` floats each, at the offsets).
    public func store(layer: Int, position: Int, keys k: FloatBuffer, keyOffset: Int,
                      values v: FloatBuffer, valueOffset: Int) {
        let width = kvHeads * headDim
        precondition(layer >= 0 && layer < layers && position >= 0 && position < positions, "slot outside the cache")
        precondition(keyOffset >= 0 && keyOffset + width <= k.count && valueOffset >= 0 && valueOffset + width <= v.count,
                     "key/value row out of range")
        zk_kv_store(layerKeys(layer), layerValuesPointer(layer), Int32(positions), Int32(kvHeads), Int32(headDim),
                    storage == .f16 ? 1 : 0, Int32(position), k.base + keyOffset, v.base + valueOffset)
    }

    /// One stored key or value as a Float (tests; not for hot loops).
    public func value(layer: Int, position: Int, kvHead: Int, index: Int, key: Bool) -> Float {
        let i = (kvHead * positions + position) * headDim + index
        let base = key ? layerKeys(layer) : layerValuesPointer(layer)
        if storage == .f16 { return HalfConversion.float(fromHalfBits: base.assumingMemoryBound(to: UInt16.self)[i]) }
        return base.assumingMemoryBound(to: Float.self)[i]
    }

    func layerKeys(_ layer: Int) -> UnsafeMutableRawPointer {
        keys + layer * layerValues * storage.bytesPerValue
    }

    func layerValuesPointer(_ layer: Int) -> UnsafeMutableRawPointer {
        values + layer * layerValues * storage.bytesPerValue
    }
}

extension WeightStorage {
    /// Bytes of one stored value (int8: without its group's scale).
    public var bytesPerValue: Int {
        switch self {
        case .f32: return 4
        case .f16: return 2
        case .int8: return 1
        }
    }
}
