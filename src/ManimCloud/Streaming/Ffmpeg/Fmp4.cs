using System.Buffers.Binary;

namespace ManimCloud.Streaming.Ffmpeg;

/// <summary>What the manifests need from a CMAF track's init segment.</summary>
public sealed record Fmp4Track(uint Timescale, string Handler, string? Codecs);

/// <summary>What the manifests need from a media segment: where it starts and how long it is, in the track's timescale.</summary>
public sealed record Fmp4Fragment(ulong BaseDecodeTime, ulong Duration);

/// <summary>
/// A minimal reader of the ISO BMFF boxes ffmpeg's CMAF segments carry: the timescale and codec string of an init
/// segment, the decode time and duration of a media segment. Exact timing for the DASH timeline and the HLS EXTINFs,
/// without another ffprobe per segment.
/// </summary>
public static class Fmp4
{
    public static Fmp4Track ReadInit(ReadOnlySpan<byte> data)
    {
        var mdia = Path(data, "moov", "trak", "mdia");
        var mdhd = Find(mdia, "mdhd");
        var timescale = mdhd[0] == 1 ? BinaryPrimitives.ReadUInt32BigEndian(mdhd[20..]) : BinaryPrimitives.ReadUInt32BigEndian(mdhd[12..]);
        var hdlr = Find(mdia, "hdlr");
        var handler = System.Text.Encoding.ASCII.GetString(hdlr.Slice(8, 4));
        var stsd = Path(mdia, "minf", "stbl", "stsd");
        string? codecs = null;
        // stsd: version/flags (4), entry count (4), then sample entries; avc1 → avcC holds profile, constraints, level.
        var entry = stsd[8..];
        var type = System.Text.Encoding.ASCII.GetString(entry.Slice(4, 4));
        if (type is "avc1" or "avc3")
        {
            var avcC = Find(entry[8..(int)BinaryPrimitives.ReadUInt32BigEndian(entry)][78..], "avcC");
            codecs = $"{type}.{avcC[1]:x2}{avcC[2]:x2}{avcC[3]:x2}";
        }
        else if (type == "mp4a") codecs = "mp4a.40.2";
        return new Fmp4Track(timescale, handler, codecs);
    }

    public static Fmp4Fragment ReadFragment(ReadOnlySpan<byte> data)
    {
        ulong start = ulong.MaxValue, duration = 0;
        foreach (var (type, body) in Boxes(data))
        {
            if (type != "moof") continue;
            foreach (var (t, traf) in Boxes(body))
            {
                if (t != "traf") continue;
                uint defaultDuration = 0;
                foreach (var (bt, b) in Boxes(traf))
                {
                    if (bt == "tfhd")
                    {
                        var flags = BinaryPrimitives.ReadUInt32BigEndian(b) & 0xFFFFFF;
                        var at = 8 + ((flags & 0x1) != 0 ? 8 : 0) + ((flags & 0x2) != 0 ? 4 : 0);
                        if ((flags & 0x8) != 0) defaultDuration = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(at));
                    }
                    else if (bt == "tfdt")
                    {
                        var t0 = b[0] == 1 ? BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(4)) : BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4));
                        start = Math.Min(start, t0);
                    }
                    else if (bt == "trun")
                    {
                        var flags = BinaryPrimitives.ReadUInt32BigEndian(b) & 0xFFFFFF;
                        var count = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4));
                        var at = 8 + ((flags & 0x1) != 0 ? 4 : 0) + ((flags & 0x4) != 0 ? 4 : 0);
                        var perSample = ((flags & 0x100) != 0 ? 4 : 0) + ((flags & 0x200) != 0 ? 4 : 0) + ((flags & 0x400) != 0 ? 4 : 0) + ((flags & 0x800) != 0 ? 4 : 0);
                        for (var i = 0; i < count; i++, at += perSample)
                            duration += (flags & 0x100) != 0 ? BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(at)) : defaultDuration;
                    }
                }
            }
        }
        if (start == ulong.MaxValue) throw new InvalidDataException("no moof/traf/tfdt in the segment");
        return new Fmp4Fragment(start, duration);
    }

    private static ReadOnlySpan<byte> Path(ReadOnlySpan<byte> data, params string[] path)
    {
        foreach (var name in path) data = Find(data, name);
        return data;
    }

    private static ReadOnlySpan<byte> Find(ReadOnlySpan<byte> data, string name)
    {
        foreach (var (type, body) in Boxes(data))
            if (type == name) return body;
        throw new InvalidDataException($"no '{name}' box");
    }

    private static List<(string Type, byte[] Body)> BoxesList(ReadOnlySpan<byte> data)
    {
        var list = new List<(string, byte[])>();
        var off = 0;
        while (off + 8 <= data.Length)
        {
            long size = BinaryPrimitives.ReadUInt32BigEndian(data[off..]);
            var type = System.Text.Encoding.ASCII.GetString(data.Slice(off + 4, 4));
            var header = 8;
            if (size == 1) { size = (long)BinaryPrimitives.ReadUInt64BigEndian(data[(off + 8)..]); header = 16; }
            else if (size == 0) size = data.Length - off;
            if (size < header || off + size > data.Length) throw new InvalidDataException($"box '{type}' runs past the end");
            list.Add((type, data.Slice(off + header, (int)size - header).ToArray()));
            off += (int)size;
        }
        return list;
    }

    private static IEnumerable<(string Type, byte[] Body)> Boxes(ReadOnlySpan<byte> data) => BoxesList(data);
}
