using System.Text;
using ManimCloud.Local;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;
using ManimCloud.Transfer;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Tests.Local;

/// <summary>
/// The JSON the catalog keeps (journaled upload options, object metadata) is written by a source-generated serializer
/// (the CLI is Native AOT) in exactly the format earlier releases wrote with the reflection serializer: their rows read
/// back, and a new row is byte for byte what they would have written. The literals below are what they wrote.
/// </summary>
public class StoredJsonFormatTests
{
    private static readonly Dictionary<string, string> Metadata = new()
    {
        ["project"] = "calculus-101",
        ["author"] = "Ann <ann+ci@example.org> & 'bot'",
    };

    private const string MetadataJson =
        """{"project":"calculus-101","author":"Ann \u003Cann\u002Bci@example.org\u003E \u0026 \u0027bot\u0027"}""";

    private const string OptionsJson =
        """{"ContentType":"video/mp4","Metadata":{"project":"calculus-101","author":"Ann \u003Cann\u002Bci@example.org\u003E \u0026 \u0027bot\u0027"},"KmsKeyId":"alias/videos","StorageClass":"INTELLIGENT_TIERING","Concurrency":4,"RequestEncryption":false}""";

    /// <summary>A row from before the journal kept RequestEncryption (and with non-ASCII escaped, as it was).</summary>
    private const string OlderOptionsJson =
        """{"ContentType":"video/mp4","Metadata":{"title":"D\u00E9riv\u00E9es"},"KmsKeyId":null,"StorageClass":null,"Concurrency":8}""";

    [Fact]
    public void Journaled_upload_options_keep_the_stored_format_and_rows_of_earlier_releases_read_back()
    {
        using var home = new TempDir();
        var catalog = new Catalog(home.File("catalog.db"));
        var journal = new UploadJournal(catalog);
        var options = new UploadOptions
        {
            ContentType = "video/mp4", Metadata = Metadata, KmsKeyId = "alias/videos", StorageClass = "INTELLIGENT_TIERING",
            Concurrency = 4, RequestEncryption = false,
        };
        var entry = journal.Start("bucket", "videos/p/v/v1/full.mp4", "upload-1", home.File("full.mp4"), 10, 1, null, 8 << 20, options);

        Assert.Equal(OptionsJson, Scalar(catalog, "SELECT options FROM transfer_uploads"));
        var back = Assert.Single(journal.List()).Options;
        Assert.True(entry.CreatedWith(back));

        Execute(catalog, "UPDATE transfer_uploads SET options = $o", OlderOptionsJson);
        var older = Assert.Single(journal.List()).Options;
        Assert.Equal(("video/mp4", null, null, 8, true), (older.ContentType, older.KmsKeyId, older.StorageClass, older.Concurrency, older.RequestEncryption));
        Assert.Equal("Dérivées", older.Metadata["title"]);
    }

    [Fact]
    public async Task Object_metadata_keeps_the_stored_format_and_rows_of_earlier_releases_read_back()
    {
        using var home = new TempDir();
        var catalog = new Catalog(home.File("catalog.db"));
        var store = new LocalObjectStore(catalog, new BlobFolder(home.File("blobs")), "code");
        var content = Encoding.UTF8.GetBytes("print('hello')\n");
        await store.PutAsync(new ObjectWrite("code/p/v/v_v1.py", ObjectKind.Code, "text/x-python", Metadata,
            ContentHash.Sha256Hex(content), content.Length), new MemoryStream(content), CancellationToken.None);

        Assert.Equal(MetadataJson, Scalar(catalog, "SELECT metadata FROM objects"));

        Execute(catalog, "UPDATE objects SET metadata = $o", """{"title":"D\u00E9riv\u00E9es","scene":"1"}""");
        var head = await store.HeadAsync("code/p/v/v_v1.py", CancellationToken.None);
        Assert.Equal(new Dictionary<string, string> { ["title"] = "Dérivées", ["scene"] = "1" }, head!.Metadata);
    }

    private static string Scalar(Catalog catalog, string sql)
    {
        using var c = catalog.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return (string)cmd.ExecuteScalar()!;
    }

    private static void Execute(Catalog catalog, string sql, string value)
    {
        using var c = catalog.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Parameters.AddWithValue("$o", value);
        cmd.ExecuteNonQuery();
        SqliteConnection.ClearAllPools();
    }
}
