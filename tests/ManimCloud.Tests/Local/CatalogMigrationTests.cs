using ManimCloud.Local;
using ManimCloud.Tests.Support;
using ManimCloud.Transfer;
using ManimCloud.Workspace;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Tests.Local;

/// <summary>A workspace written by the previous release (catalog schema v3) opens under this one with nothing lost.</summary>
public class CatalogMigrationTests
{
    [Fact]
    public void A_v3_workspace_opens_as_v4_with_its_unfinished_upload_still_journaled_as_a_sha256_upload()
    {
        using var home = new TempDir();
        var path = home.File("catalog.db");
        var catalog = new Catalog(path);
        var journal = new UploadJournal(catalog);
        var entry = journal.Start("bucket", "videos/p/v/v1/full.mp4", "upload-1", home.File("full.mp4"), 190_000_000, 42, new string('a', 64),
            8 << 20, new UploadOptions { ChecksumMode = ChecksumMode.WhenSupported });
        journal.PartDone(entry.Id, new JournalPart(1, 8 << 20, "Y2hlY2s=", "\"etag-1\""));
        // Make it the v3 file the previous release left: no integrity column, user_version 3.
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var downgrade = c.CreateCommand();
            downgrade.CommandText = "ALTER TABLE transfer_uploads DROP COLUMN integrity; PRAGMA user_version = 3;";
            downgrade.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();

        var reopened = new UploadJournal(new Catalog(path));

        var upload = Assert.Single(reopened.List());
        Assert.Equal(("upload-1", 190_000_000L, UploadIntegrity.Sha256), (upload.UploadId, upload.Size, upload.Integrity));
        Assert.Equal(new JournalPart(1, 8 << 20, "Y2hlY2s=", "\"etag-1\""), Assert.Single(reopened.Parts(upload.Id)));
        using var check = new SqliteConnection($"Data Source={path};Pooling=False");
        check.Open();
        using var version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version;";
        Assert.Equal(4L, (long)version.ExecuteScalar()!);
    }
}
