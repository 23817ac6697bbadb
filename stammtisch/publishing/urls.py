from django.urls import path

from stammtisch.publishing import views, views_approvals, views_feeds, views_import, views_media, views_queue

app_name = "publishing"

urlpatterns = [
    path("w/<slug:slug>/calendar/", views.calendar, name="calendar"),
    path("w/<slug:slug>/calendar/feed/", views.calendar_feed, name="calendar_feed"),
    # Public but secret: the token is the only credential (calendar apps cannot log in).
    path("calendar/<slug:token>.ics", views.calendar_ical, name="calendar_ical"),
    path("w/<slug:slug>/compose/", views.compose, name="compose"),
    path("w/<slug:slug>/compose/check/", views.compose_check, name="compose_check"),
    path("w/<slug:slug>/compose/mentions/", views.compose_mentions, name="compose_mentions"),
    path("w/<slug:slug>/compose/media/", views_media.compose_media, name="compose_media"),
    path("w/<slug:slug>/compose/media/upload/", views_media.compose_media_upload, name="compose_media_upload"),
    path("w/<slug:slug>/media/<int:media_id>/", views_media.media_file, name="media_file"),
    # Public but secret: networks fetch images from here (docs/media.md).
    path("media/<int:media_id>/<slug:token>/", views_media.media_public, name="media_public"),
    path("w/<slug:slug>/posts/<int:post_id>/", views.post_detail, name="post"),
    path("w/<slug:slug>/posts/<int:post_id>/edit/", views.post_edit, name="post_edit"),
    path("w/<slug:slug>/posts/<int:post_id>/move/", views.post_reschedule, name="post_reschedule"),
    path("w/<slug:slug>/posts/<int:post_id>/delete/", views.post_delete, name="post_delete"),
    path("w/<slug:slug>/posts/<int:post_id>/duplicate/", views.post_duplicate, name="post_duplicate"),
    path("w/<slug:slug>/posts/<int:post_id>/goal/", views.post_goal, name="post_goal"),
    path(
        "w/<slug:slug>/posts/<int:post_id>/publish-now/",
        views.post_publish_now,
        name="post_publish_now",
    ),
    path("w/<slug:slug>/posts/<int:post_id>/cancel/", views.post_cancel, name="post_cancel"),
    path(
        "w/<slug:slug>/posts/<int:post_id>/deliveries/<int:delivery_id>/retry/",
        views.delivery_retry,
        name="delivery_retry",
    ),
    # Approvals (docs/approvals.md).
    path("w/<slug:slug>/approvals/", views_approvals.approvals_queue, name="approvals"),
    path("w/<slug:slug>/settings/approvals/", views_approvals.approval_settings, name="approval_settings"),
    path("w/<slug:slug>/posts/<int:post_id>/approval/submit/", views_approvals.post_submit, name="post_submit"),
    path("w/<slug:slug>/posts/<int:post_id>/approval/decide/", views_approvals.post_decide, name="post_decide"),
    path("w/<slug:slug>/posts/<int:post_id>/approval/withdraw/", views_approvals.post_withdraw, name="post_withdraw"),
    path(
        "w/<slug:slug>/posts/<int:post_id>/approval/links/",
        views_approvals.review_link_create,
        name="review_link_create",
    ),
    path(
        "w/<slug:slug>/posts/<int:post_id>/approval/links/<int:link_id>/revoke/",
        views_approvals.review_link_revoke,
        name="review_link_revoke",
    ),
    # Public but secret: the token is the reviewer's only credential (no account needed).
    path("review/<slug:token>/", views_approvals.review, name="review"),
    # The queue and evergreen posts (docs/queue.md).
    path("w/<slug:slug>/queue/", views_queue.queue_page, name="queue"),
    path("w/<slug:slug>/queue/next/", views_queue.queue_next, name="queue_next"),
    path("w/<slug:slug>/queue/<int:channel_id>/slots/", views_queue.queue_slots, name="queue_slots"),
    path("w/<slug:slug>/queue/<int:channel_id>/preset/", views_queue.queue_preset, name="queue_preset"),
    path("w/<slug:slug>/posts/<int:post_id>/queue/", views_queue.post_add_to_queue, name="post_add_to_queue"),
    path("w/<slug:slug>/posts/<int:post_id>/evergreen/", views_queue.post_make_evergreen, name="post_make_evergreen"),
    path("w/<slug:slug>/evergreen/", views_queue.evergreen_page, name="evergreen"),
    path("w/<slug:slug>/evergreen/<int:evergreen_id>/edit/", views_queue.evergreen_edit, name="evergreen_edit"),
    path("w/<slug:slug>/evergreen/<int:evergreen_id>/state/", views_queue.evergreen_state, name="evergreen_state"),
    path("w/<slug:slug>/evergreen/<int:evergreen_id>/delete/", views_queue.evergreen_delete, name="evergreen_delete"),
    # CSV import and blog feeds (docs/import.md).
    path("w/<slug:slug>/import/", views_import.import_posts, name="import"),
    path("w/<slug:slug>/import/confirm/", views_import.import_confirm, name="import_confirm"),
    path("w/<slug:slug>/import/template.csv", views_import.import_template, name="import_template"),
    path("w/<slug:slug>/feeds/", views_feeds.feed_list, name="feeds"),
    path("w/<slug:slug>/feeds/<int:feed_id>/edit/", views_feeds.feed_edit, name="feed_edit"),
    path("w/<slug:slug>/feeds/<int:feed_id>/state/", views_feeds.feed_state, name="feed_state"),
    path("w/<slug:slug>/feeds/<int:feed_id>/check/", views_feeds.feed_check, name="feed_check"),
    path("w/<slug:slug>/feeds/<int:feed_id>/delete/", views_feeds.feed_delete, name="feed_delete"),
]
